/**
 * Every Temporal payload dicomflow writes (workflow input and result, activity inputs and results, heartbeat details,
 * query answers, signals) is encrypted with AES-256-GCM before it leaves the process, so the history — in the
 * server's database, in `temporal workflow show`, in the Web UI — holds no readable value (a presigned URL's
 * signature included). The client and every worker use the same key.
 *
 * Encrypted payload: metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`, data = 12-byte IV,
 * ciphertext of the whole original payload (protobuf), 16-byte tag; the key id is authenticated too. Decoding passes
 * payloads that are not encrypted through unchanged (histories written before encryption still replay and resume).
 *
 * Keys: one or more 256-bit keys, base64 or 64 hex digits, separated by new lines, commas or spaces ('#' starts a
 * comment); the first encrypts, all decrypt (rotation: put the new key first and keep the old ones after it). A key's
 * id is derived from it (a hash), so nothing has to be named. Where they come from, first found:
 *   DICOMFLOW_CODEC_KEY_FILE   a file holding the keys
 *   DICOMFLOW_CODEC_KEY        the keys themselves
 *   DIR/temporal/codec.key     the embedded default's key, generated once (mode 0600) with DIR's local server
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { workspace } from '../workspace';

export const CODEC_KEY_ENV = 'DICOMFLOW_CODEC_KEY';
export const CODEC_KEY_FILE_ENV = 'DICOMFLOW_CODEC_KEY_FILE';
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface CodecKey {
  id: string;
  key: Buffer;
}

/** A key's id: a hash of it, safe to store next to the ciphertext. */
export function codecKeyId(key: Buffer): string {
  return createHash('sha256').update('dicomflow payload codec key id\0').update(key).digest('hex').slice(0, 16);
}

/** Parses keys (base64 or hex, 32 bytes each); `where` names their origin in errors. */
export function parseCodecKeys(text: string, where: string): CodecKey[] {
  const words = text
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .join(' ')
    .split(/[\s,]+/)
    .filter(Boolean);
  if (words.length === 0) throw new CodecKeyError(`${where} holds no key`);
  return words.map((word, n) => {
    const key = /^[0-9a-f]{64}$/i.test(word) ? Buffer.from(word, 'hex') : /^[A-Za-z0-9+/_-]+={0,2}$/.test(word) ? Buffer.from(word, 'base64') : Buffer.alloc(0);
    if (key.length !== 32) {
      throw new CodecKeyError(`${where}: key ${n + 1} is not a 256-bit key (32 bytes, as base64 or 64 hex digits; make one with: openssl rand -base64 32)`);
    }
    return { id: codecKeyId(key), key };
  });
}

export class CodecKeyError extends Error {}

/**
 * The protobuf type of a payload, loaded on first use: @temporalio/proto builds the reflection of every Temporal API
 * type when it loads (~0.2 s of CPU), which a command should not spend before it has spawned its server, and which
 * the Web UI's codec endpoint spends only when the UI asks it to decode something.
 */
let payloadProto: typeof temporal.api.common.v1.Payload | undefined;
function Payload(): typeof temporal.api.common.v1.Payload {
  return (payloadProto ??= (require('@temporalio/proto') as typeof import('@temporalio/proto')).temporal.api.common.v1.Payload);
}

const text = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);

/** AES-256-GCM payload codec: encrypts with the first key, decrypts with whichever key a payload names. */
export class AesGcmCodec implements PayloadCodec {
  private readonly current: CodecKey;
  private readonly byId: Map<string, Buffer>;

  constructor(keys: CodecKey[]) {
    if (keys.length === 0) throw new CodecKeyError('no payload codec key');
    this.current = keys[0];
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get keyId(): string {
    return this.current.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
      cipher.setAAD(Buffer.from(this.current.id));
      const body = Buffer.concat([cipher.update(Payload().encode(payload).finish()), cipher.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(this.current.id) },
        data: Buffer.concat([iv, body, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload; // written before encryption
      const id = text(payload.metadata?.[KEY_ID_METADATA]);
      const key = id ? this.byId.get(id) : undefined;
      if (!key) {
        throw new CodecKeyError(
          `a payload is encrypted with codec key ${id ?? '(no id)'}, which this process does not have (it has ${[...this.byId.keys()].join(', ')}); ` +
            `give it that key through ${CODEC_KEY_FILE_ENV} or ${CODEC_KEY_ENV}`,
        );
      }
      const data = Buffer.from(payload.data ?? []);
      if (data.length < IV_BYTES + TAG_BYTES) throw new CodecKeyError('an encrypted payload is too short');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id!));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new CodecKeyError(`an encrypted payload (key ${id}) does not authenticate: it was altered or cut`);
      }
      return Payload().decode(plain);
    });
  }
}

/** The embedded default's key file. */
export function embeddedKeyFile(outDir: string): string {
  return path.join(workspace(outDir).temporalDir, 'codec.key');
}

/**
 * Creates DIR/temporal/codec.key (a fresh random key, mode 0600) unless it exists. Safe when several processes race:
 * the key is written under a private name and linked into place, so all of them end up with the same key.
 */
export function ensureEmbeddedKey(outDir: string): string {
  const file = embeddedKeyFile(outDir);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const content =
    '# dicomflow payload codec key (AES-256-GCM) of the Temporal server of this folder. Keep it private.\n' +
    '# Rotate: put a new key (openssl rand -base64 32) on the first line and keep the old ones below it.\n' +
    `${randomBytes(32).toString('base64')}\n`;
  fs.writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return file;
}

export interface CodecKeySource {
  keys: CodecKey[];
  /** Where they came from, for messages (never the keys). */
  from: string;
}

/**
 * The keys this process uses: $DICOMFLOW_CODEC_KEY_FILE, else $DICOMFLOW_CODEC_KEY, else DIR/temporal/codec.key
 * (created when `create`, i.e. for DIR's embedded server). Throws CodecKeyError when there is none.
 */
export function loadCodecKeys(opts: { outDir?: string; create?: boolean; env?: NodeJS.ProcessEnv } = {}): CodecKeySource {
  const env = opts.env ?? process.env;
  const keyFile = env[CODEC_KEY_FILE_ENV];
  if (keyFile) {
    let content: string;
    try {
      content = fs.readFileSync(keyFile, 'utf8');
    } catch (err) {
      throw new CodecKeyError(`cannot read the payload codec key file ${keyFile} (${CODEC_KEY_FILE_ENV}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return { keys: parseCodecKeys(content, `${CODEC_KEY_FILE_ENV} (${keyFile})`), from: keyFile };
  }
  const inline = env[CODEC_KEY_ENV];
  if (inline) return { keys: parseCodecKeys(inline, CODEC_KEY_ENV), from: CODEC_KEY_ENV };
  if (opts.outDir) {
    const file = opts.create ? ensureEmbeddedKey(opts.outDir) : embeddedKeyFile(opts.outDir);
    if (fs.existsSync(file)) return { keys: parseCodecKeys(fs.readFileSync(file, 'utf8'), file), from: file };
  }
  throw new CodecKeyError(
    `no payload codec key: every Temporal payload is encrypted, so the client and every worker need the same key. ` +
      `Set ${CODEC_KEY_ENV} (e.g. \`openssl rand -base64 32\`) or ${CODEC_KEY_FILE_ENV} (a file holding it) for all of them` +
      (opts.outDir ? `, or use DIR's embedded server, whose key is ${embeddedKeyFile(opts.outDir)}` : ''),
  );
}

/** The payload codec of this process (see loadCodecKeys). */
export function loadCodec(opts: Parameters<typeof loadCodecKeys>[0] = {}): AesGcmCodec {
  return new AesGcmCodec(loadCodecKeys(opts).keys);
}

/** The catalog's password stays out of payloads: redacted by the client, put back by the worker. */
import { DB_URL_ENV, hasPassword, redactDbUrl, rememberDbUrl, resolveDbUrl } from '../../src/db/credentials';
import { catalogTarget } from '../../src/db/catalog';

test('redactDbUrl removes the password (user info and parameters) and keeps the rest', () => {
  expect(redactDbUrl('postgres://dicomflow:s3cret@db:5432/catalog')).toBe('postgres://dicomflow@db:5432/catalog');
  expect(redactDbUrl('postgresql://u:p%40ss@word@h/db?sslmode=require')).toBe('postgresql://u@h/db?sslmode=require');
  expect(redactDbUrl('postgres://u@h/db?password=x&sslmode=require&sslpassword=y')).toBe('postgres://u@h/db?sslmode=require');
  expect(redactDbUrl('postgres://h/db')).toBe('postgres://h/db');
  expect(redactDbUrl('/data/catalog.db')).toBe('/data/catalog.db');
  expect(redactDbUrl(undefined)).toBeUndefined();
  expect(hasPassword('postgres://u:p@h/db')).toBe(true);
  expect(hasPassword('postgres://u@h/db')).toBe(false);
});

test('a worker resolves the password: its own memory, then DICOMFLOW_DB_URL; a URL that still has one is used as is', () => {
  const full = 'postgres://alice:pw-from-cli@dbhost:5432/cat';
  const redacted = rememberDbUrl(full);
  expect(redacted).toBe('postgres://alice@dbhost:5432/cat');
  expect(resolveDbUrl(redacted, {})).toBe(full);

  const other = 'postgres://bob:pw-from-env@otherhost/cat2';
  const env = { [DB_URL_ENV]: `postgres://carol:x@h3/db3 ${other}` };
  expect(resolveDbUrl('postgres://bob@otherhost/cat2', env)).toBe(other);
  expect(resolveDbUrl('postgres://nobody@unknown/db', env)).toBe('postgres://nobody@unknown/db'); // PGPASSWORD / ~/.pgpass then
  // A run started before credentials left the payloads carries the full URL: it still works.
  expect(resolveDbUrl('postgres://dave:old@h/db', {})).toBe('postgres://dave:old@h/db');
  // Opening the catalog goes through it.
  expect(catalogTarget({ dbUrl: redacted })).toEqual({ dialect: 'postgres', url: full });
});

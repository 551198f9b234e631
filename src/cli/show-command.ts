/** `dicomflow show <sop-instance-uid>`: one instance's whole header, readable. */
import { NoCatalogError, openExistingCatalog } from '../db/catalog';
import { formatHeader } from '../dicom/show';
import type { DicomJson } from '../dicom/types';

export async function showInstance(sopInstanceUid: string, db: { outDir?: string; dbUrl?: string }): Promise<number> {
  let knex;
  try {
    knex = await openExistingCatalog(db);
  } catch (err) {
    if (!(err instanceof NoCatalogError)) throw err;
    process.stderr.write(`dicomflow: ${err.message}\n`);
    return 1;
  }
  try {
    const row = await knex('dicom_metadata').where({ sop_instance_uid: sopInstanceUid }).first('meta', 'file_path', 'source_path');
    if (!row) {
      process.stderr.write(`dicomflow: no instance with SOP Instance UID ${sopInstanceUid} in the catalog\n`);
      return 1;
    }
    const meta: DicomJson = typeof row.meta === 'string' ? JSON.parse(row.meta) : row.meta;
    process.stdout.write(`# ${row.file_path}  (from ${row.source_path})\n${formatHeader(meta)}\n`);
    return 0;
  } finally {
    await knex.destroy();
  }
}

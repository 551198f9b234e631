/**
 * `dicomflow db check`: the seed notebook's checks on the catalog — record count, distinct
 * patients/studies/series, null count per column of dicom_metadata — plus a schema check that fails
 * loudly when a column of the contract is missing. Reads the schema as it is: never migrates.
 */
import type { Knex } from 'knex';
import { catalogTarget, connectCatalog, describeDb, missingCatalog, type CatalogOptions } from './catalog';
import { DICOM_METADATA_COLUMNS, FILES_COLUMNS, SERIES_ISSUES_COLUMNS, SERIES_SUMMARY_COLUMNS, VALIDATION_RESULTS_COLUMNS } from './migrations';

export interface DbCheckResult {
  ok: boolean;
  text: string;
}

const REQUIRED: Record<string, readonly string[]> = {
  dicom_metadata: DICOM_METADATA_COLUMNS,
  validation_results: VALIDATION_RESULTS_COLUMNS,
  series_issues: SERIES_ISSUES_COLUMNS,
  series_summary: SERIES_SUMMARY_COLUMNS,
  files: FILES_COLUMNS,
};

/** Columns each contract table or view lacks ([] when complete); a missing table lacks them all. */
async function missingColumns(db: Knex): Promise<Record<string, string[]>> {
  const missing: Record<string, string[]> = {};
  for (const [table, required] of Object.entries(REQUIRED)) {
    const present = Object.keys(await db(table).columnInfo());
    missing[table] = required.filter((c) => !present.includes(c));
  }
  return missing;
}

function num(value: unknown): number {
  return Number(value ?? 0);
}

function pad(label: string, width: number): string {
  return label.padEnd(width, ' ');
}

async function statistics(db: Knex, metadataColumns: string[], lines: string[]): Promise<void> {
  const has = (c: string) => metadataColumns.includes(c);
  const counts = [db.raw('COUNT(*) AS records')];
  for (const [alias, column] of [['patients', 'patient_id'], ['studies', 'study_instance_uid'], ['series', 'series_instance_uid']]) {
    if (has(column)) counts.push(db.raw('COUNT(DISTINCT ??) AS ??', [column, alias]));
  }
  // COUNT(column) skips nulls: nulls = records - COUNT(column), all in one scan.
  metadataColumns.forEach((c, i) => counts.push(db.raw('COUNT(??) AS ??', [c, `c${i}`])));
  const row = (await db('dicom_metadata').select(counts).first()) as Record<string, unknown>;
  const records = num(row.records);

  lines.push(`Records in dicom_metadata: ${records}`);
  const distinct = (alias: string, column: string) => (has(column) ? String(num(row[alias])) : 'n/a (column missing)');
  lines.push(`Distinct patients: ${distinct('patients', 'patient_id')}`);
  lines.push(`Distinct studies:  ${distinct('studies', 'study_instance_uid')}`);
  lines.push(`Distinct series:   ${distinct('series', 'series_instance_uid')}`);
  lines.push('Null values per column of dicom_metadata:');
  const width = Math.max(...metadataColumns.map((c) => c.length)) + 2;
  metadataColumns.forEach((c, i) => lines.push(`  ${pad(c, width)}${records - num(row[`c${i}`])}`));

  const statuses = (await db('validation_results').select('status').count({ n: '*' }).groupBy('status').orderBy('status')) as {
    status: string;
    n: unknown;
  }[];
  const byStatus = statuses.map((s) => `${s.status} ${num(s.n)}`).join(', ');
  lines.push(`Validation results: ${byStatus || 'none'}`);
  const [issues] = await db('series_issues').count({ n: '*' });
  lines.push(`Series issues: ${num(issues.n)}`);
}

export async function dbCheck(opts: CatalogOptions): Promise<DbCheckResult> {
  try {
    catalogTarget(opts);
  } catch (err) {
    return { ok: false, text: `DB CHECK FAILED: ${(err as Error).message}` };
  }
  const lines = [`Catalog: ${describeDb(opts)}`];
  // No file, or a database without any of our tables: say so, rather than a schema report on nothing.
  try {
    const missing = await missingCatalog(opts);
    if (missing) {
      lines.push(`DB CHECK FAILED: ${missing}`);
      return { ok: false, text: lines.join('\n') };
    }
  } catch (err) {
    lines.push(`DB CHECK FAILED: ${(err as Error).message}`);
    return { ok: false, text: lines.join('\n') };
  }

  const db = connectCatalog(opts);
  try {
    const missing = await missingColumns(db);
    const broken = Object.entries(missing).filter(([, cols]) => cols.length > 0);
    for (const [table, cols] of broken) {
      const whole = cols.length === REQUIRED[table].length;
      lines.push(
        whole
          ? `SCHEMA CHECK FAILED: table ${table} is missing (required columns: ${cols.join(', ')})`
          : `SCHEMA CHECK FAILED: ${table} is missing required column(s): ${cols.join(', ')}`,
      );
    }
    if (broken.length === 0) lines.push('Schema: OK (dicom_metadata, validation_results, series_issues, series_summary, files have every contract column)');

    const metadataColumns = DICOM_METADATA_COLUMNS.filter((c) => !missing.dicom_metadata.includes(c));
    // Statistics over whatever is there; a missing table or broken view must not hide the schema verdict.
    if (metadataColumns.length > 0) {
      await statistics(db, metadataColumns, lines).catch((err: Error) => lines.push(`Statistics unavailable: ${err.message}`));
    }
    const ok = broken.length === 0;
    lines.push(ok ? 'DB CHECK OK' : 'DB CHECK FAILED: the catalog does not match the contract (see above)');
    return { ok, text: lines.join('\n') };
  } catch (err) {
    lines.push(`DB CHECK FAILED: ${(err as Error).message}`);
    return { ok: false, text: lines.join('\n') };
  } finally {
    await db.destroy();
  }
}

/** report: the run's CSVs, report.html, charts and thumbnails (src/report/write.ts), heartbeating how far it got. */
import { writeRunReport, type ReportInput, type ReportResult } from '../report/write';
import { heartbeat } from './heartbeat';

export { METADATA_COLUMNS, MAX_THUMBNAILS, REPORT_FILES, VALIDATION_COLUMNS, type ReportInput, type ReportResult } from '../report/write';

export async function writeReport(input: ReportInput): Promise<ReportResult> {
  // Throttled by the shared helper; a no-op when called directly from tests or the CLI.
  const hb = heartbeat<Record<string, number>>();
  return writeRunReport(input, (count, what) => hb.beat({ [what]: count }));
}

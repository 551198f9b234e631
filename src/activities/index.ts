// The activities, one module per stage, in pipeline order.
export { download } from './download';
export { extract } from './extract';
export { validateBatch } from './validate';
export { collectMetadata, readMetadataBatch } from './metadata';
export { organize } from './organize';
export { loadDatabase } from './load-database';
export { writeReport } from './report';
export { cleanScratch } from './cleanup';
export { planExport, exportBatch, finishExport } from './export';
export { scanFolder, recordFiles } from './files';

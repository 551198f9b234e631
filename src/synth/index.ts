export { synthesize, writeSynthFolder, planOptions } from './synthesize';
export type { SynthOptions, SynthManifest, ExpectedEntry, ExpectedInstance, ExpectedSeries, ExpectedSeriesIssue, EntryStatus } from './types';
export { readCentralDirectory } from './zip';
export { synthCommand } from './cli';

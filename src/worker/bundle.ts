// Build step: bundles the workflow code once into dist/workflow-bundle.js (see createWorker).
import * as fs from 'fs';
import * as path from 'path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('WARN') });
  fs.writeFileSync(path.resolve(__dirname, '../workflow-bundle.js'), code);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

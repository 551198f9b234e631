/** Row 5's history check: every workflow execution on a server (continued-as-new runs included) and its event count. */
import { Client, Connection } from '@temporalio/client';

/** Temporal's hard limit on the events of one workflow execution's history. */
export const HISTORY_EVENT_LIMIT = 51_200;

export interface HistoryFacts {
  executions: number;
  largest: { workflowId: string; runId: string; events: number };
  total: number;
}

export async function histories(address: string, namespace = 'default'): Promise<HistoryFacts> {
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace });
    const facts: HistoryFacts = { executions: 0, largest: { workflowId: '', runId: '', events: 0 }, total: 0 };
    for await (const wf of client.workflow.list()) {
      const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const events = history.events?.length ?? 0;
      facts.executions++;
      facts.total += events;
      if (events > facts.largest.events) facts.largest = { workflowId: wf.workflowId, runId: wf.runId, events };
    }
    return facts;
  } finally {
    await connection.close();
  }
}

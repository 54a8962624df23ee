// The honest node: the core's Replica, unchanged, built fresh or restored from its records.
import { Replica } from '../core/replica.ts';
import type { NodeFactory, NodeRestorer } from './node.ts';

export const replicaNode: NodeFactory = (config) => new Replica(config);

export const restoreReplica: NodeRestorer = (config, records, options) => {
  const { replica, effects, report } = Replica.restore(config, records, options);
  return { node: replica, effects, rejected: report.rejected, amnesia: report.amnesia };
};

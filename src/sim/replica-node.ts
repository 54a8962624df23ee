// The honest node: the core's Replica, unchanged.
import { Replica } from '../core/replica.ts';
import type { NodeFactory } from './node.ts';

export const replicaNode: NodeFactory = (config) => new Replica(config);

// One shard of a sharded `weir detect` (src/discover/sharded.ts runs it) on a worker thread: see DetectShard.
import { serveShard } from '../discover/shard-core.js';
import { DetectShard } from './shard-core.js';

serveShard((init) => new DetectShard(init));

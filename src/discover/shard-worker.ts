// One shard of a sharded run (src/discover/sharded.ts) on a worker thread: see DiscoverShard.
import { DiscoverShard, serveShard } from './shard-core.js';

serveShard((init, inline) => new DiscoverShard(init, inline));

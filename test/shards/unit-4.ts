// One of the unit tier's shared processes (test/helpers/unit-shard.ts explains why).
import { runUnitShard } from '../helpers/unit-shard.ts';

await runUnitShard(4, 4);

#!/usr/bin/env python3
"""The dataset of the committed dumps (tests/corpus/rdb/*.rdb), as RESP commands on stdout:
every type and encoding in a few tens of KB. `dataset.py hfe` adds hashes with field TTLs
(Redis 7.4+, Valkey 9). See make.sh for how the dumps were written."""
import random, sys

random.seed(7)
hfe = len(sys.argv) > 1 and sys.argv[1] == "hfe"
out = sys.stdout.buffer


def cmd(*a):
    parts = [b"*%d\r\n" % len(a)]
    for x in a:
        x = str(x).encode() if not isinstance(x, bytes) else x
        parts.append(b"$%d\r\n%s\r\n" % (len(x), x))
    out.write(b"".join(parts))


for i, v in enumerate(["0", "-0", "007", "12", "-123", "9223372036854775807",
                       "9223372036854775808", "1.5", " 1", "hello", "", "x" * 20, "y" * 21]):
    cmd("SET", f"s:{i}", v)
for i in range(20):
    cmd("SET", f"str:{i}", "abc" * random.randint(8, 120))  # LZF-compressible
for i in range(10):
    cmd("SET", f"ttl:{i}", random.randint(0, 10**9), "PX", 10**9 + i)
cmd("SET", "bin", bytes(range(256)))
cmd("SET", "k" * 40, "key name long enough to be compressed")
for i in range(6):
    kv = []
    for f in range(random.randint(1, 12)):
        kv += [f"f{f}", random.choice(["v" * random.randint(0, 30), str(random.randint(-10**6, 10**6))])]
    cmd("HSET", f"hash:{i}", *kv)
cmd("HSET", "hash:big", *[x for f in range(150) for x in (f"field:{f}", "w" * (f % 40))])
cmd("HSET", "hash:longval", "a", "z" * 100)
for i in range(4):
    cmd("RPUSH", f"list:{i}", *[random.choice(["job" * random.randint(1, 9), str(random.randint(-99, 99999))])
                                  for _ in range(random.randint(1, 20))])
cmd("RPUSH", "list:big", *[f"item-{j}-" + "q" * (j % 50) for j in range(700)])
cmd("RPUSH", "list:ints", *range(300))
for i in range(3):
    cmd("SADD", f"intset:{i}", *[random.randint(-40000, 40000) for _ in range(random.randint(1, 30))])
cmd("SADD", "intset:wide", -(2**40), 5, 2**40)
cmd("SADD", "set:small", "a", "b", "c", "12", "-3")
cmd("SADD", "set:big", *[f"m{j}" for j in range(200)])
cmd("SADD", "set:manyints", *range(600))
cmd("ZADD", "zset:small", 1, "a", 2.5, "b", -3, "c", "inf", "d", "-inf", "e", 0.1, "f", 1e300, "12")
cmd("ZADD", "zset:big", *[x for j in range(200) for x in (random.random() * 1000, f"player{j}")])
for j in range(30):
    cmd("XADD", "stream", "*", "a", j, "b", "hello")
cmd("XGROUP", "CREATE", "stream", "g1", "0")
cmd("XREADGROUP", "GROUP", "g1", "c1", "COUNT", "5", "STREAMS", "stream", ">")
if hfe:
    cmd("HSET", "hfe:small", "a", "1", "b", "two", "c", "3")
    cmd("HPEXPIRE", "hfe:small", 10**9, "FIELDS", 2, "a", "c")
    cmd("HSET", "hfe:big", "long", "L" * 100, *[x for f in range(200) for x in (f"f{f}", f"v{f}")])
    cmd("HPEXPIRE", "hfe:big", 10**9, "FIELDS", 3, "f1", "f2", "f3")
cmd("SELECT", 3)
cmd("SET", "other:db", "v")
cmd("HSET", "other:h", "a", "1")
cmd("SELECT", 0)

package resolver

import (
	"hash/maphash"
	"net"
	"sync"
	"time"
)

// cacheKey identifies one question. name is lower-case without the trailing
// dot; DNS names compare case-insensitively (RFC 4343 §3).
type cacheKey struct {
	name  string
	qtype uint16
}

// answer is a positive result, already converted to what the Lookup methods
// return so that a cache hit costs one copy and no parsing. It is never
// mutated after the flight that built it finishes.
type answer struct {
	strs []string // TXT (character-strings joined) or PTR names
	ips  []net.IP
	mx   []net.MX
	ad   bool // AD bit of the response (RFC 4035 §3.2.3)
}

// result is what one resolution produced: exactly one of ans and fail is set.
type result struct {
	ans  *answer
	fail *failure
	ttl  time.Duration // how long it may be cached; 0 = not at all
}

// entry is a cached result.
type entry struct {
	res     result
	expires time.Time
}

// call is one in-flight resolution that identical concurrent lookups wait
// on instead of sending their own queries (coalescing).
type call struct {
	done chan struct{}
	res  result
}

// shard is one lock-protected slice of the cache. Sharding keeps the hot
// path (a read-locked map lookup) from contending on one global lock.
type shard struct {
	mu       sync.RWMutex
	entries  map[cacheKey]*entry
	inflight map[cacheKey]*call
	capacity int
}

// cache holds the shards. With capacity 0 nothing is stored but the
// inflight maps still coalesce queries.
type cache struct {
	seed   maphash.Seed
	shards []*shard
}

// evictionSample is how many entries an insert into a full shard looks at
// to pick a victim: the first expired one, else the one expiring soonest.
// Sampling keeps inserts O(1) without an LRU list, whose upkeep would need
// the write lock on every hit.
const evictionSample = 8

func newCache(capacity int) *cache {
	n := 1
	for n < 64 && n*16 < capacity {
		n *= 2
	}
	c := &cache{seed: maphash.MakeSeed(), shards: make([]*shard, n)}
	for i := range c.shards {
		per := capacity / n
		if i < capacity%n {
			per++
		}
		c.shards[i] = &shard{
			entries:  make(map[cacheKey]*entry),
			inflight: make(map[cacheKey]*call),
			capacity: per,
		}
	}
	return c
}

func (c *cache) shard(k cacheKey) *shard {
	if len(c.shards) == 1 {
		return c.shards[0]
	}
	h := maphash.String(c.seed, k.name) ^ uint64(k.qtype)*0x9e3779b97f4a7c15
	return c.shards[h%uint64(len(c.shards))]
}

// get returns the unexpired entry for k.
func (s *shard) get(k cacheKey, now time.Time) (result, bool) {
	s.mu.RLock()
	e, ok := s.entries[k]
	s.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return result{}, false
	}
	return e.res, true
}

// putLocked stores r for k if it is cacheable; s.mu must be held for
// writing. It reports whether an entry was evicted.
func (s *shard) putLocked(k cacheKey, r result, now time.Time) (evicted bool) {
	if s.capacity == 0 || r.ttl <= 0 {
		delete(s.entries, k)
		return false
	}
	if _, ok := s.entries[k]; !ok && len(s.entries) >= s.capacity {
		var victim cacheKey
		var soonest time.Time
		i := 0
		for key, e := range s.entries {
			if !now.Before(e.expires) {
				victim = key
				break
			}
			if i == 0 || e.expires.Before(soonest) {
				victim, soonest = key, e.expires
			}
			i++
			if i >= evictionSample {
				break
			}
		}
		delete(s.entries, victim)
		evicted = true
	}
	s.entries[k] = &entry{res: r, expires: now.Add(r.ttl)}
	return evicted
}

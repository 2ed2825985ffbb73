package cluster

import (
	"hash/fnv"
	"slices"
	"strings"
)

// Rank orders nodes by how much each should own camera, best first
// (rendezvous, or highest-random-weight, hashing): every node computes
// the same order from the same members, and when a member comes or goes
// only the cameras it ranks first for move. The order says who tries
// first; etcd's transaction decides who wins.
func Rank(camera string, nodes []string) []string {
	out := slices.Clone(nodes)
	score := make(map[string]uint64, len(out))
	for _, n := range out {
		score[n] = weight(n, camera)
	}
	slices.SortFunc(out, func(a, b string) int {
		switch sa, sb := score[a], score[b]; {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return strings.Compare(a, b)
	})
	return out
}

// weight is node's score for camera: FNV-1a of both, mixed (SplitMix64's
// finaliser) so that similar names do not give similar scores.
func weight(node, camera string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(node))
	h.Write([]byte{0})
	h.Write([]byte(camera))
	z := h.Sum64()
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

package harness

import "math"

// PowerAt is the tests' own P(u) for an 11-point power curve (watts at 0, 10, ..., 100 % load): linear between the
// points, u clamped to [0, 1]. Written independently of the extender so that the tests check it rather than echo it.
func PowerAt(c []float64, u float64) float64 {
	u = math.Max(0, math.Min(1, u))
	x := u * 10
	i := int(math.Floor(x))
	if i >= 10 {
		return c[10]
	}
	return c[i] + (c[i+1]-c[i])*(x-float64(i))
}

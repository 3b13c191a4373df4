// Package connstorm measures, in a benchmark, how fast a real server
// admits connections when a fleet comes back at once: b.N connects from a
// few clients in parallel, reported as connects/s and as the seconds a
// 2,000-cabin storm would spend on them. The credential benchmarks of
// natsauth (bcrypt passwords) and devcred (JWTs) share it, so their
// figures compare.
package connstorm

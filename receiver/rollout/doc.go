// Package rollout runs agent update waves: an admin makes a wave (a
// version, its channel, a list of cabins or a percentage of a site or of
// the fleet, how many may fail); the controller tells its cabins, a step
// at a time, which version to run (retained on each cabin's update topic),
// follows their update_applied, update_failed and update_rolled_back
// events, and stops the wave, telling no more cabins, once more of them
// failed than it allows. Waves live in the store (store.Rollouts).
package rollout

//go:build !race

package e2e

// raceEnabled is true when the tests run with -race: the daemon under test
// is then built with -race as well.
const raceEnabled = false

// The Sunlight CT log that core/ct's tests submit to, built from this
// module (one exact release) by internal/ctlogtest: it is a test
// dependency only, kept out of pkid's own module graph.
module github.com/pkid/pkid/internal/ctlogtest/sunlight

go 1.24.0

require filippo.io/sunlight v0.8.1

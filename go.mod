module github.com/pkid/pkid

go 1.26.8

require github.com/pkid/pkid/sdk v0.0.0

replace github.com/pkid/pkid/sdk => ./sdk

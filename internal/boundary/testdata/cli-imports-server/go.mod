module github.com/pkid/pkid

go 1.26

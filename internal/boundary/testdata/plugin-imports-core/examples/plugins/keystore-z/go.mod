module example.com/keystore-z

go 1.26

pkid {
  listen = "127.0.0.1:8888"
}

pkid {
  listen = "127.0.0.1:9999"
}

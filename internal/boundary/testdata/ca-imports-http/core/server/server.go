package server

import _ "net/http"

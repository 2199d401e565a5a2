package ca

import _ "net/http"

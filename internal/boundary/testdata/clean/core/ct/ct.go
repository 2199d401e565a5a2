package ct

import _ "net/http"

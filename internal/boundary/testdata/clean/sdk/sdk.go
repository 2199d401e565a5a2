package sdk

import _ "context"

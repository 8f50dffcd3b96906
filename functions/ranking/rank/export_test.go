package rank

import (
	"context"
	"strconv"
	"time"
)

// TakeOnly leases the due posts and emits nothing: a replica that dies
// between taking and emitting.
func (r *Ranker) TakeOnly(ctx context.Context) error {
	now := time.Now()
	return take.Run(ctx, r.rdb, []string{r.pendingKey()}, strconv.FormatInt(now.UnixMilli(), 10),
		now.Add(r.cfg.Lease).UnixMilli(), r.cfg.FlushBatch).Err()
}

package api

import (
	"context"
	"errors"

	"github.com/nova-social/nova/shared/domain/identity"
	"github.com/nova-social/nova/shared/domain/messaging"
	"github.com/nova-social/nova/shared/id"
)

// userExists lets messaging open conversations only with registered users.
func userExists(people *identity.Service) messaging.UserExists {
	return func(ctx context.Context, u id.UserID) (bool, error) {
		_, err := people.Get(ctx, u)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, identity.ErrNotFound), errors.Is(err, identity.ErrInvalid):
			return false, nil
		}
		return false, err
	}
}

package plugins

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kessai/kessai/plugins/internal/pb"
)

// grpcServer runs on the adapter side: it turns each RPC into a call of the Adapter and the
// answer back into protobuf. Errors leave as gRPC status codes chosen by toStatus, so that
// the host can tell "refused up front" from "unknown".
type grpcServer struct {
	pb.UnimplementedAdapterServer
	impl Adapter
}

var _ pb.AdapterServer = (*grpcServer)(nil)

// ready refuses to start work the host has already given up on: a call that arrives after
// its deadline must not reach the provider, since the host has already recorded it as
// undefined and will resolve it by Reference.
func ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return toStatus(err)
	}
	return nil
}

func (s *grpcServer) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.Description, error) {
	if err := ready(ctx); err != nil {
		return nil, err
	}
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return toProtoDescription(d), nil
}

func (s *grpcServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if err := ready(ctx); err != nil {
		return nil, err
	}
	if err := s.impl.Configure(ctx, Settings(req.GetSettings())); err != nil {
		return nil, toStatus(err)
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *grpcServer) ValidateSettings(ctx context.Context, req *pb.ValidateSettingsRequest) (*pb.ValidateSettingsResponse, error) {
	if err := ready(ctx); err != nil {
		return nil, err
	}
	errs, err := s.impl.ValidateSettings(ctx, Settings(req.GetSettings()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ValidateSettingsResponse{Errors: toProtoFieldErrors(errs)}, nil
}

func (s *grpcServer) PrepareCheckout(ctx context.Context, req *pb.CheckoutRequest) (*pb.CheckoutResult, error) {
	if err := ready(ctx); err != nil {
		return nil, err
	}
	res, err := s.impl.PrepareCheckout(ctx, fromProtoCheckoutRequest(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return toProtoCheckoutResult(res), nil
}

func (s *grpcServer) Confirm(ctx context.Context, req *pb.ConfirmRequest) (*pb.TransactionResult, error) {
	if err := ready(ctx); err != nil {
		return nil, err
	}
	return transaction(s.impl.Confirm(ctx, fromProtoConfirmRequest(req)))
}

func (s *grpcServer) Reference(ctx context.Context, req *pb.ReferenceRequest) (*pb.TransactionResult, error) {
	if err := ready(ctx); err != nil {
		return nil, err
	}
	return transaction(s.impl.Reference(ctx, fromProtoReferenceRequest(req)))
}

func (s *grpcServer) Capture(ctx context.Context, req *pb.CaptureRequest) (*pb.TransactionResult, error) {
	if err := ready(ctx); err != nil {
		return nil, err
	}
	return transaction(s.impl.Capture(ctx, fromProtoCaptureRequest(req)))
}

func (s *grpcServer) Cancel(ctx context.Context, req *pb.CancelRequest) (*pb.TransactionResult, error) {
	if err := ready(ctx); err != nil {
		return nil, err
	}
	return transaction(s.impl.Cancel(ctx, fromProtoCancelRequest(req)))
}

func (s *grpcServer) Modify(ctx context.Context, req *pb.ModifyRequest) (*pb.TransactionResult, error) {
	if err := ready(ctx); err != nil {
		return nil, err
	}
	return transaction(s.impl.Modify(ctx, fromProtoModifyRequest(req)))
}

func (s *grpcServer) Charge(ctx context.Context, req *pb.ChargeRequest) (*pb.TransactionResult, error) {
	if err := ready(ctx); err != nil {
		return nil, err
	}
	return transaction(s.impl.Charge(ctx, fromProtoChargeRequest(req)))
}

func (s *grpcServer) ParseWebhook(ctx context.Context, req *pb.WebhookRequest) (*pb.WebhookEvent, error) {
	if err := ready(ctx); err != nil {
		return nil, err
	}
	ev, err := s.impl.ParseWebhook(ctx, fromProtoWebhookRequest(req))
	if err != nil {
		return nil, toStatus(err)
	}
	return toProtoWebhookEvent(ev), nil
}

func transaction(res TransactionResult, err error) (*pb.TransactionResult, error) {
	if err != nil {
		return nil, toStatus(err)
	}
	return toProtoTransactionResult(res), nil
}

// toStatus maps an adapter's error to the gRPC code that fromStatus reads back on the host.
// Only the codes for "refused before reaching the provider" are distinct; everything else is
// Unknown, which the host treats as "may have reached the provider".
func toStatus(err error) error {
	code := codes.Unknown
	switch {
	case errors.Is(err, ErrUnsupported):
		code = codes.Unimplemented
	case errors.Is(err, ErrNotConfigured):
		code = codes.FailedPrecondition
	case errors.Is(err, ErrInvalidRequest):
		code = codes.InvalidArgument
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, err.Error())
}

// newGRPCServer builds the adapter's gRPC server with a panic guard: adapters are stateless,
// so a panicking call can be answered with an error (which the host classifies as Undefined)
// instead of taking the process and every other call in flight down with it.
func newGRPCServer(logger hclog.Logger) func([]grpc.ServerOption) *grpc.Server {
	guard := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("adapter panicked", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, fmt.Sprintf("adapter panicked: %v", r))
			}
		}()
		return h(ctx, req)
	}
	return func(opts []grpc.ServerOption) *grpc.Server {
		opts = append(opts, serverOptions()...)
		return grpc.NewServer(append(opts, grpc.ChainUnaryInterceptor(guard))...)
	}
}

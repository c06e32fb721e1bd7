using Moq;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Tdx.Ci;
using Vmm.Plugins.Tdx.Tests.Infrastructure;

namespace Vmm.Plugins.Tdx.Tests.Machine;

/// <summary>
/// What tdx-ci makes the kernel deliver, on a whole simulated host: exactly one event per consumption,
/// of the kind table H names for the requester (H6–H9, H14).
/// </summary>
public sealed class FaultDeliveryTests
{
    private const ulong Gpa = 0x2000;
    private static readonly LinuxFaultDelivery Linux = new();

    private delegate Outcome DeliverFunc(in KernelEvent kernelEvent);

    private readonly Mock<IFaultDelivery> _faults = new(MockBehavior.Strict);
    private readonly List<KernelEvent> _delivered = [];
    private readonly Simulation _simulation;

    public FaultDeliveryTests()
    {
        _faults.Setup(f => f.Deliver(in It.Ref<KernelEvent>.IsAny)).Returns(new DeliverFunc((in KernelEvent e) =>
        {
            _delivered.Add(e);
            return Linux.Deliver(e);
        }));
        _simulation = TdMachine.Create((contents, ledger) => new TdxCiMemoryController(new TdxOptions(), contents, ledger), _faults.Object);
    }

    [Fact]
    public void GuestRead_OfWhatTheTdWrote_NeverDeliversAnything()
    {
        Assert.Equal(OutcomeKind.Ok, Run(TdMachine.GuestWrite(Gpa, 0x5e, 0xc2, 0xe7)).Kind);
        var read = Run(TdMachine.GuestRead(Gpa, 3));

        Assert.Equal(OutcomeKind.Ok, read.Kind);
        Assert.Equal(new byte[] { 0x5e, 0xc2, 0xe7 }, read.Data);
        _faults.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestRead_AfterHostWrite_DeliversTdFatalOnce()
    {
        Run(TdMachine.GuestWrite(Gpa, 0x5e, 0xc2, 0xe7));
        Assert.Equal(OutcomeKind.Ok, Run(TdMachine.HostWrite(Gpa, 0x0b, 0xad)).Kind);
        _faults.VerifyNoOtherCalls(); // H5: writes are never checked

        var outcome = Run(TdMachine.GuestRead(Gpa, 4));

        Assert.Equal(OutcomeKind.GuestKilled, outcome.Kind);
        VerifyDeliveredOnce(KernelEventKind.TdFatal);
        _faults.VerifyNoOtherCalls();
    }

    [Fact]
    public void HostRead_OfPoisonedLine_DeliversSigBusMceerrArLsb12Once()
    {
        PoisonTheTdLine();

        var outcome = Run(TdMachine.HostRead(Gpa, 4));

        Assert.Equal(OutcomeKind.SigBus, outcome.Kind);
        var signal = VerifyDeliveredOnce(KernelEventKind.SigBus);
        Assert.Equal(SigBusCode.BUS_MCEERR_AR, signal.Code);
        Assert.Equal(12, signal.Lsb);
        _faults.VerifyNoOtherCalls();
    }

    [Fact]
    public void KernelRead_OfPoisonedLine_DeliversHostPanicOnce()
    {
        PoisonTheTdLine();

        var outcome = Run(TdMachine.KernelRead(Gpa, 4));

        Assert.Equal(OutcomeKind.HostPanic, outcome.Kind);
        Assert.True(_simulation.Ended);
        VerifyDeliveredOnce(KernelEventKind.HostPanic);
        _faults.VerifyNoOtherCalls();
    }

    [Fact]
    public void SeamRead_OfPoisonedLine_DeliversShutdownOnce()
    {
        PoisonTheTdLine();

        var outcome = Run(TdMachine.KernelRead(Gpa, 8, requester: "seam"));

        Assert.Equal(OutcomeKind.Shutdown, outcome.Kind);
        Assert.True(_simulation.Ended);
        VerifyDeliveredOnce(KernelEventKind.Shutdown);
        _faults.VerifyNoOtherCalls();
    }

    [Fact]
    public void DmaRead_OfPoisonedLine_FailsWithEioAndDeliversNothing()
    {
        PoisonTheTdLine();

        var outcome = Run(TdMachine.DmaRead(Gpa, 4));

        Assert.Equal(OutcomeKind.Errno, outcome.Kind);
        Assert.Equal(Errno.EIO, outcome.Errno);
        Assert.False(_simulation.Ended);
        _faults.VerifyNoOtherCalls();
    }

    [Fact]
    public void KernelRead_OfTdOwnedLine_ReturnsZerosAndDeliversNothing()
    {
        Run(TdMachine.GuestWrite(Gpa, 0x5e, 0xc2, 0xe7));

        var outcome = Run(TdMachine.KernelRead(Gpa, 3));

        Assert.Equal(OutcomeKind.Ok, outcome.Kind);
        Assert.Equal(new byte[3], outcome.Data);
        _faults.VerifyNoOtherCalls();
    }

    /// <summary>H5 then H6: the host overwrites a TD line, the TD's read poisons it and kills the TD.</summary>
    private void PoisonTheTdLine()
    {
        Run(TdMachine.GuestWrite(Gpa, 0x5e, 0xc2, 0xe7));
        Run(TdMachine.HostWrite(Gpa, 0x0b, 0xad));
        Assert.Equal(OutcomeKind.GuestKilled, Run(TdMachine.GuestRead(Gpa, 4)).Kind);
        VerifyDeliveredOnce(KernelEventKind.TdFatal);
        _faults.VerifyNoOtherCalls();
        _faults.Invocations.Clear();
        _delivered.Clear();
    }

    private KernelEvent VerifyDeliveredOnce(KernelEventKind kind)
    {
        _faults.Verify(f => f.Deliver(in It.Ref<KernelEvent>.IsAny), Times.Once());
        var delivered = Assert.Single(_delivered);
        Assert.Equal(kind, delivered.Kind);
        return delivered;
    }

    private Outcome Run(StepSpec step) => _simulation.Execute(step);
}

using Moq;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.SevSnp.Tests.Infrastructure;

namespace Vmm.Plugins.SevSnp.Tests.Machine;

/// <summary>What sev-snp makes the kernel deliver, on a whole simulated host: exactly one event of the kind table H names.</summary>
public sealed class SnpFaultDeliveryTests
{
    private const ulong Gpa = 0x2000;
    private static readonly LinuxFaultDelivery Linux = new();

    private delegate Outcome DeliverFunc(in KernelEvent kernelEvent);

    private readonly Mock<IFaultDelivery> _faults = new(MockBehavior.Strict);
    private readonly List<KernelEvent> _delivered = [];
    private readonly Simulation _simulation;

    public SnpFaultDeliveryTests()
    {
        _faults.Setup(f => f.Deliver(in It.Ref<KernelEvent>.IsAny)).Returns(new DeliverFunc((in KernelEvent e) =>
        {
            _delivered.Add(e);
            return Linux.Deliver(e);
        }));
        _simulation = SnpMachine.Create(_faults.Object);
    }

    [Fact]
    public void GuestAccesses_OfItsOwnPages_NeverDeliverAnything()
    {
        Assert.Equal(OutcomeKind.Ok, Run(SnpMachine.GuestWrite(Gpa, 0x5e, 0xc2)).Kind);
        var read = Run(SnpMachine.GuestRead(Gpa, 2));

        Assert.Equal(new byte[] { 0x5e, 0xc2 }, read.Data);
        _faults.VerifyNoOtherCalls();
    }

    [Fact]
    public void HostWrite_ToAnAssignedPage_DeliversSigBusAdrErrOnce()
    {
        Run(SnpMachine.GuestWrite(Gpa, 0x5e));

        var outcome = Run(SnpMachine.HostWrite(Gpa, 0x0b));

        Assert.Equal(OutcomeKind.SigBus, outcome.Kind);
        var signal = VerifyDeliveredOnce(KernelEventKind.SigBus);
        Assert.Equal(SigBusCode.BUS_ADRERR, signal.Code);
        Assert.Equal(SignalContext.VmmAccess, signal.Context);
        _faults.VerifyNoOtherCalls();
    }

    [Fact]
    public void GuestRead_AfterTheHostDiscardedItsPage_DeliversGuestVcOnce()
    {
        Run(SnpMachine.GuestWrite(Gpa, 0x5e));
        Assert.Equal(OutcomeKind.Ok, Run(SnpMachine.Madvise(Gpa, "DONTNEED")).Kind);
        _faults.VerifyNoOtherCalls();

        var outcome = Run(SnpMachine.GuestRead(Gpa, 1));

        Assert.Equal(OutcomeKind.GuestVc, outcome.Kind);
        var vc = VerifyDeliveredOnce(KernelEventKind.GuestVc);
        Assert.Equal(new VmId(0), vc.Vm);
        _faults.VerifyNoOtherCalls();
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

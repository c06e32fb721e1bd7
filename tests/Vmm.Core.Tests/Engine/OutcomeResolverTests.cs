using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Machine;
using Vmm.Tests.Infrastructure;

namespace Vmm.Core.Tests.Engine;

/// <summary>Each rule of <see cref="OutcomeResolver"/>'s precedence, with a strict fault delivery that must be asked once or never.</summary>
public class OutcomeResolverTests
{
    private const int VmmPid = 100;
    private const int ChildPid = 101;

    private static readonly KernelEvent Panic = KernelEvent.Of(KernelEventKind.HostPanic, "poison consumed in kernel context");
    private static readonly KernelEvent Shutdown = KernelEvent.Of(KernelEventKind.Shutdown, "#MC in SEAM root");
    private static readonly KernelEvent OomKill = new(KernelEventKind.SigKill, VmmPid, default, new Hva(0x1000), 0, SignalContext.Async, default, "out of memory");
    private static readonly KernelEvent AccessFault = KernelEvent.SigBus(VmmPid, SigBusCode.BUS_MCEERR_AR, new Hva(0x2000), 12, SignalContext.VmmAccess, default, "hwpoison entry");
    private static readonly KernelEvent EarlyKill = KernelEvent.SigBus(VmmPid, SigBusCode.BUS_MCEERR_AO, new Hva(0x3000), 12, SignalContext.Async, default, "early kill");
    private static readonly KernelEvent ChildSignal = KernelEvent.SigBus(ChildPid, SigBusCode.BUS_MCEERR_AO, new Hva(0x3000), 12, SignalContext.Async, default, "early kill");
    private static readonly KernelEvent TdFatal = KernelEvent.Of(KernelEventKind.TdFatal, "td1 consumed poison", default, VmmPid);

    private static readonly Outcome Marker = Outcome.GuestMce("the fault delivery's answer");

    private static (Outcome Outcome, StrictFaults Faults) Resolve(KernelResult result, params KernelEvent[] events)
    {
        var faults = new StrictFaults();
        faults.Allow(Marker);
        var outcome = new OutcomeResolver(faults.Mock.Object).Resolve(result, events, VmmPid);
        return (outcome, faults);
    }

    [Fact]
    public void Resolve_MachineEndingEvent_WinsOverTheOpsFaultAndEveryOtherSignal()
    {
        var (outcome, faults) = Resolve(KernelResult.FaultedWith(AccessFault), EarlyKill, OomKill, AccessFault, Panic, Shutdown);

        Assert.Same(Marker, outcome);
        Assert.Equal(Panic, faults.VerifyDeliveredOnce());
    }

    [Fact]
    public void Resolve_SigkillToTheVmm_WinsOverTheSyscallsErrno()
    {
        var (outcome, faults) = Resolve(Outcome.Error(Errno.ENOMEM), OomKill);

        Assert.Same(Marker, outcome);
        Assert.Equal(OomKill, faults.VerifyDeliveredOnce());
    }

    [Fact]
    public void Resolve_SigkillToTheVmm_WinsOverTheOpsOwnFault()
    {
        var (_, faults) = Resolve(KernelResult.FaultedWith(AccessFault), AccessFault, OomKill);

        Assert.Equal(OomKill, faults.VerifyDeliveredOnce());
    }

    [Fact]
    public void Resolve_TheOpsOwnFault_WinsOverAnEarlierAsyncSignal()
    {
        var (outcome, faults) = Resolve(KernelResult.FaultedWith(AccessFault), EarlyKill, AccessFault);

        Assert.Same(Marker, outcome);
        Assert.Equal(AccessFault, faults.VerifyDeliveredOnce());
    }

    [Fact]
    public void Resolve_TheOpsOwnFault_IsDeliveredWhicheverProcessItHit()
    {
        var childFault = AccessFault with { Pid = ChildPid };

        var (_, faults) = Resolve(KernelResult.FaultedWith(childFault), childFault);

        Assert.Equal(childFault, faults.VerifyDeliveredOnce());
    }

    [Theory]
    [InlineData(Errno.EHWPOISON)]
    [InlineData(Errno.EBUSY)]
    public void Resolve_SigbusTheVmmReceived_WinsOverTheSyscallsErrno(Errno errno)
    {
        // K19: madvise(MADV_HWPOISON) on 6.11 signals the caller; the signal is the outcome, not madvise's errno.
        var (outcome, faults) = Resolve(Outcome.Error(errno), EarlyKill);

        Assert.Same(Marker, outcome);
        Assert.Equal(EarlyKill, faults.VerifyDeliveredOnce());
    }

    [Fact]
    public void Resolve_SigbusTheVmmReceived_WinsOverData()
    {
        var (_, faults) = Resolve(Outcome.OkData([1, 2, 3]), EarlyKill);

        Assert.Equal(EarlyKill, faults.VerifyDeliveredOnce());
    }

    [Fact]
    public void Resolve_FatalTdRaisedDuringASuccessfulOp_IsTheOutcome()
    {
        var (_, faults) = Resolve(Outcome.Ok(), TdFatal);

        Assert.Equal(TdFatal, faults.VerifyDeliveredOnce());
    }

    [Fact]
    public void Resolve_TheFirstOfSeveralSigbusesToTheVmm_IsDelivered()
    {
        var later = EarlyKill with { Address = new Hva(0x9000) };

        var (_, faults) = Resolve(Outcome.Ok(), EarlyKill, later);

        Assert.Equal(EarlyKill, faults.VerifyDeliveredOnce());
    }

    [Fact]
    public void Resolve_SignalsToOtherProcesses_LeaveTheOpsResultAndAskNothing()
    {
        var own = Outcome.Error(Errno.EFAULT);

        var (outcome, faults) = Resolve(own, ChildSignal, ChildSignal with { Kind = KernelEventKind.SigKill });

        Assert.Same(own, outcome);
        faults.Mock.VerifyNoOtherCalls();
        Assert.Empty(faults.Delivered);
    }

    [Fact]
    public void Resolve_NoEvents_IsTheOpsOwnResultAndAsksNothing()
    {
        var own = Outcome.OkCount(3);

        var (outcome, faults) = Resolve(own);

        Assert.Same(own, outcome);
        faults.Mock.VerifyNoOtherCalls();
    }
}

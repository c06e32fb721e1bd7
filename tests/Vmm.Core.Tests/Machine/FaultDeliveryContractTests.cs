using Moq;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Tests.Infrastructure;
using Vmm.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>What the kernel hands to <see cref="IFaultDelivery"/>: exactly one event per observable fault, none otherwise.</summary>
public class FaultDeliveryContractTests
{
    private const ulong Gpa = 0x4000;

    /// <summary>An answer no real delivery gives, so a test sees that the step's outcome is the delivery's answer.</summary>
    private static readonly Outcome Marker = Outcome.GuestMce("the fault delivery's answer");

    private static (TestMachine M, StrictFaults Faults) WithStrictFaults(KernelOptions? options = null)
    {
        var faults = new StrictFaults();
        var m = TestMachine.Create(new MachineSetup { Faults = faults.Mock.Object, Options = options ?? new KernelOptions() });
        return (m, faults);
    }

    [Fact]
    public void HostRead_OfHwPoisonEntry_DeliversOneSigbusMceerrArLsb12InVmmContext()
    {
        var (m, faults) = WithStrictFaults();
        Expect.Ok(m.HostWrite(Gpa, 0x10));
        Expect.Ok(m.MemoryError(Gpa)); // late kill: nothing to deliver yet (a strict mock would throw)
        var marker = Outcome.SigBus(SigBusCode.BUS_MCEERR_AR, new Hva(1), 12);
        faults.Allow(marker);

        var outcome = m.HostRead(Gpa + 0x20);

        Assert.Same(marker, outcome);
        var e = faults.VerifyDeliveredOnce();
        Assert.Equal(KernelEventKind.SigBus, e.Kind);
        Assert.Equal(SigBusCode.BUS_MCEERR_AR, e.Code);
        Assert.Equal(12, e.Lsb);
        Assert.Equal(SignalContext.VmmAccess, e.Context);
        Assert.Equal(m.VmmProcess.Pid, e.Pid);
        Assert.Equal(new Hva(m.HvaOf(Gpa + 0x20)), e.Address);
    }

    [Fact]
    public void KernelRead_OfPoisonedLine_DeliversExactlyOneHostPanic()
    {
        var (m, faults) = WithStrictFaults();
        Expect.Ok(m.HostWrite(Gpa, 0x10));
        m.Kernel.Memory.PoisonLine(m.FrameOf(Gpa), 0);
        faults.Allow(Outcome.HostPanic("mock"));

        var outcome = m.KernelRead(Gpa);

        Expect.Kind(OutcomeKind.HostPanic, outcome);
        Assert.True(m.Simulation.Ended);
        Assert.Equal(KernelEventKind.HostPanic, faults.VerifyDeliveredOnce().Kind);
    }

    [Fact]
    public void SuccessfulHostAndGuestAccesses_DeliverNothing()
    {
        var (m, faults) = WithStrictFaults();

        Expect.Ok(m.HostWrite(Gpa, 0x10));
        Expect.Data(m.HostRead(Gpa));
        Expect.Ok(m.GuestWrite(Gpa + TestMachine.Page, [1, 2, 3]));
        Expect.Data(m.GuestRead(Gpa + TestMachine.Page, 3));
        Expect.Count(m.Gup(Gpa));

        faults.Mock.VerifyNoOtherCalls();
        Assert.Empty(faults.Delivered);
    }

    [Fact]
    public void GuestWrite_OnHwPoisonEntry_DeliversSigbusArLsb12OnTheVcpuThread()
    {
        var (m, faults) = WithStrictFaults();
        Expect.Ok(m.HostWrite(Gpa, 0x10));
        Expect.Ok(m.MemoryError(Gpa));
        faults.Allow(Outcome.SigBus(SigBusCode.BUS_MCEERR_AR, new Hva(0), 12));

        m.GuestWrite(Gpa + 8, [9]);

        // K26: kvm_send_hwpoison_signal at the page-aligned hva.
        var e = faults.VerifyDeliveredOnce();
        Assert.Equal((KernelEventKind.SigBus, SigBusCode.BUS_MCEERR_AR, 12, SignalContext.VcpuThread), (e.Kind, e.Code, e.Lsb, e.Context));
        Assert.Equal(m.VmNamed().Info.Id, e.Vm);
        Assert.Equal(new Hva(m.HvaOf(Gpa)), e.Address);
    }

    [Fact]
    public void MemoryError_WithEarlyKill_DeliversOneAsyncAoSignal()
    {
        var (m, faults) = WithStrictFaults(new KernelOptions { EarlyKill = true });
        Expect.Ok(m.HostWrite(Gpa, 0x10));
        faults.Allow(Outcome.SigBus(SigBusCode.BUS_MCEERR_AO, new Hva(0), 12));

        m.MemoryError(Gpa);

        var e = faults.VerifyDeliveredOnce();
        Assert.Equal((KernelEventKind.SigBus, SigBusCode.BUS_MCEERR_AO, 12, SignalContext.Async), (e.Kind, e.Code, e.Lsb, e.Context));
        Assert.Equal(new Hva(m.HvaOf(Gpa)), e.Address);
    }

    [Fact]
    public void HostRead_OfPoisonedLine_DeliversOneSigbusArFromMemoryFailure()
    {
        var (m, faults) = WithStrictFaults();
        Expect.Ok(m.HostWrite(Gpa, 0x10));
        m.Kernel.Memory.PoisonLine(m.FrameOf(Gpa), 0);
        faults.Allow(Marker);

        Assert.Same(Marker, m.HostRead(Gpa));

        // H8: #MC → memory_failure(MF_ACTION_REQUIRED) signals the consumer; kill_me_maybe adds nothing.
        var e = faults.VerifyDeliveredOnce();
        Assert.Equal((KernelEventKind.SigBus, SigBusCode.BUS_MCEERR_AR, 12, SignalContext.VmmAccess), (e.Kind, e.Code, e.Lsb, e.Context));
        Assert.Single(m.Simulation.LastEvents);
    }

    [Fact]
    public void Gup_OnHwPoisonEntry_IsEfaultAndDeliversNothing()
    {
        var (m, faults) = WithStrictFaults();
        Expect.Ok(m.HostWrite(Gpa, 0x10));
        Expect.Ok(m.MemoryError(Gpa));

        Expect.Error(Errno.EFAULT, m.Gup(Gpa));

        faults.Mock.VerifyNoOtherCalls();
        Assert.Empty(m.Simulation.LastEvents);
    }

    [Fact]
    public void MemoryError_ConsumedByTheVmm_DeliversExactlyOneSigbusAr()
    {
        var (m, faults) = WithStrictFaults();
        Expect.Ok(m.HostWrite(Gpa, 0x10));
        faults.Allow(Marker);

        Assert.Same(Marker, m.MemoryError(Gpa, consumed: true));

        var e = faults.VerifyDeliveredOnce();
        Assert.Equal((KernelEventKind.SigBus, SigBusCode.BUS_MCEERR_AR, 12), (e.Kind, e.Code, e.Lsb));
        Assert.Equal(m.VmmProcess.Pid, e.Pid);
    }

    [Fact]
    public void GuestRead_OfPoisonedLineInPrivatePage_DeliversOneSigbusArOnTheVcpuThread()
    {
        var faults = new StrictFaults();
        var m = TestMachine.Create(new MachineSetup { Faults = faults.Mock.Object, Vms = [TestMachine.Vm(TestMachine.DefaultVm, isProtected: true)] });
        Expect.Ok(m.GuestWrite(Gpa, [1, 2, 3]));
        m.Kernel.Memory.PoisonLine(m.FrameOf(Gpa), 0);
        faults.Allow(Marker);

        Assert.Same(Marker, m.GuestRead(Gpa, 3));

        // H8 in guest mode: the #MC is the host's, memory_failure signals the vCPU thread.
        var e = faults.VerifyDeliveredOnce();
        Assert.Equal((KernelEventKind.SigBus, SigBusCode.BUS_MCEERR_AR, SignalContext.VcpuThread), (e.Kind, e.Code, e.Context));
        Assert.Equal(m.VmNamed().Info.Id, e.Vm);
    }

    [Fact]
    public void HostWrite_WithNoFreeFrame_DeliversTheOomKillersSigkillOnce()
    {
        var faults = new StrictFaults();
        var m = TestMachine.Create(new MachineSetup { Faults = faults.Mock.Object, Vms = [TestMachine.Vm(TestMachine.DefaultVm, 4 * TestMachine.MiB)], Headroom = 0 });
        for (var gpa = 0UL; gpa < 4 * TestMachine.MiB - TestMachine.Page; gpa += TestMachine.Page) Expect.Ok(m.HostWrite(gpa, 1, 1));
        // An answer that is not "killed": the kill must still be delivered once, not once by the fault path and again by the step.
        faults.Allow(Marker);

        Assert.Same(Marker, m.HostWrite(4 * TestMachine.MiB - TestMachine.Page, 1, 1));

        var e = faults.VerifyDeliveredOnce();
        Assert.Equal((KernelEventKind.SigKill, m.VmmProcess.Pid), (e.Kind, e.Pid));
    }

    [Fact]
    public void MadviseHwPoison_OnPinnedThp_611_DeliversTheSigbusOnceInsteadOfTheErrno()
    {
        var (m, faults) = WithStrictFaults();
        m = TestMachine.Create(new MachineSetup { Faults = faults.Mock.Object, Kernel = new KernelVersion(6, 11) });
        Expect.Ok(m.Madvise(0, TestMachine.Huge, "HUGEPAGE"));
        Expect.Ok(m.HostWrite(0x3000, 0x31));
        Expect.Count(m.Gup(0, flags: GupFlags.Pin));
        faults.Allow(Marker);

        Assert.Same(Marker, m.Madvise(0x3000, TestMachine.Page, "HWPOISON"));

        var e = faults.VerifyDeliveredOnce();
        Assert.Equal((KernelEventKind.SigBus, SigBusCode.BUS_MCEERR_AR, 21), (e.Kind, e.Code, e.Lsb));
    }

    [Fact]
    public void HostRead_OutsideAnyVma_DeliversOneSigSegv()
    {
        var (m, faults) = WithStrictFaults();
        faults.Allow(Outcome.Killed("SIGSEGV"));

        m.HostReadAt(0x1000);

        var e = faults.VerifyDeliveredOnce();
        Assert.Equal(KernelEventKind.SigSegv, e.Kind);
        Assert.Equal(new Hva(0x1000), e.Address);
    }
}

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

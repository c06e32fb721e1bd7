using Vmm.Abstractions;
using Vmm.Plugins.Baseline.KvmExit;
using Vmm.Plugins.Baseline.Linux;
using Vmm.Plugins.Baseline.Vmce;

namespace Vmm.Core.Tests.Machine;

/// <summary>Table F: what linux, kvm-exit and vmce make of the events of a failed or poisoned guest access.</summary>
public sealed class GuestFaultDeliveryTests
{
    private static readonly Hva Address = new(0x7f00_0000_1000UL);
    private static readonly GuestMemoryFault PrivateFault = new(new Gpa(0x1000), PageGeometry.PageSize, Private: true, HardwareError: false);
    private static readonly GuestMemoryFault HugeHardwareError = new(new Gpa(0x200000), PageGeometry.HugeSize, Private: false, HardwareError: true);

    private static KernelEvent HwPoisonSignal(GuestMemoryFault guest)
        => KernelEvent.GuestFault(KernelEventKind.SigBus, 1, SigBusCode.BUS_MCEERR_AR, Address, PageGeometry.PageShift, new VmId(0), "kvm_send_hwpoison_signal", guest);

    private static KernelEvent BadPage(GuestMemoryFault guest)
        => KernelEvent.GuestFault(KernelEventKind.GuestFaultFailed, 1, default, Address, 0, new VmId(0), "kvm_handle_bad_page", guest);

    [Fact]
    public void KvmExit_TurnsTheHwPoisonSignal_IntoAMemoryFaultExit()
    {
        var outcome = new KvmExitFaultDelivery().Deliver(HwPoisonSignal(PrivateFault));

        Assert.Equal(OutcomeKind.KvmExit, outcome.Kind);
        Assert.Equal("MEMORY_FAULT", outcome.ExitReason);
        Assert.Equal(["PRIVATE"], outcome.ExitFlags);
        Assert.Equal(new Gpa(0x1000), outcome.ExitGpa);
        Assert.Equal((ulong)PageGeometry.PageSize, outcome.ExitSize);
        Assert.Equal(Errno.EFAULT, outcome.Errno);
    }

    [Fact]
    public void KvmExit_ReportsEhwpoison_ForAHardwareError_AndTheHugeMappingsSize()
    {
        var outcome = new KvmExitFaultDelivery().Deliver(BadPage(HugeHardwareError));

        Assert.Equal(OutcomeKind.KvmExit, outcome.Kind);
        Assert.Empty(outcome.ExitFlags);
        Assert.Equal(PageGeometry.HugeSize, outcome.ExitSize);
        Assert.Equal(Errno.EHWPOISON, outcome.Errno);
    }

    [Fact]
    public void KvmExit_LeavesPoisonConsumedInPlace_AsTheSignal()
    {
        var consumed = KernelEvent.SigBus(1, SigBusCode.BUS_MCEERR_AR, Address, PageGeometry.PageShift, SignalContext.VcpuThread, new VmId(0), "kill_me_maybe");

        var outcome = new KvmExitFaultDelivery().Deliver(consumed);

        Assert.Equal(OutcomeKind.SigBus, outcome.Kind);
        Assert.Equal(SigBusCode.BUS_MCEERR_AR, outcome.SigBusCode);
    }

    [Fact]
    public void Linux_ReportsABadPage_AsKvmRunsEfault()
        => Assert.Equal(Errno.EFAULT, new LinuxFaultDelivery().Deliver(BadPage(PrivateFault)).Errno);

    [Fact]
    public void Vmce_InjectsAnActionRequiredSignalOnTheVcpuThread()
        => Assert.Equal(OutcomeKind.GuestMce, new VmceFaultDelivery().Deliver(HwPoisonSignal(PrivateFault)).Kind);

    [Theory]
    [InlineData(SigBusCode.BUS_MCEERR_AR, SignalContext.VmmAccess)]
    [InlineData(SigBusCode.BUS_MCEERR_AO, SignalContext.Async)]
    [InlineData(SigBusCode.BUS_MCEERR_AO, SignalContext.VcpuThread)]
    [InlineData(SigBusCode.BUS_ADRERR, SignalContext.VcpuThread)]
    public void Vmce_DeliversEveryOtherSignal_AsLinuxDoes(SigBusCode code, SignalContext context)
    {
        var signal = KernelEvent.SigBus(1, code, Address, PageGeometry.PageShift, context, new VmId(0), "test");

        var outcome = new VmceFaultDelivery().Deliver(signal);

        Assert.Equal(new LinuxFaultDelivery().Deliver(signal), outcome);
        Assert.Equal(OutcomeKind.SigBus, outcome.Kind);
    }

    [Fact]
    public void Vmce_LeavesAFatalTdKilled()
        => Assert.Equal(OutcomeKind.GuestKilled, new VmceFaultDelivery().Deliver(KernelEvent.Of(KernelEventKind.TdFatal, "integrity", new VmId(0), 1)).Kind);
}

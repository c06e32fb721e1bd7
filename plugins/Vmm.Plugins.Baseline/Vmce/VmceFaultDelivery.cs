using Vmm.Abstractions;
using Vmm.Plugins.Baseline.Linux;

namespace Vmm.Plugins.Baseline.Vmce;

/// <summary>
/// F3: the VMM turns an action-required SIGBUS on a vCPU thread into a machine check injected into the guest, as
/// QEMU's kvm_arch_on_sigbus_vcpu does (target/i386/kvm/kvm.c: BUS_MCEERR_AR → kvm_mce_inject), and the VMM and the
/// guest go on. The VMM's own accesses, BUS_MCEERR_AO (QEMU only logs it for the main thread and re-raises
/// nothing for the guest here), a fatal TD and every other event are delivered as under linux.
/// </summary>
public sealed class VmceFaultDelivery : IFaultDelivery
{
    private readonly LinuxFaultDelivery _linux = new();

    public Outcome Deliver(in KernelEvent kernelEvent)
    {
        if (kernelEvent is { Kind: KernelEventKind.SigBus, Code: SigBusCode.BUS_MCEERR_AR, Context: SignalContext.VcpuThread })
            return Outcome.GuestMce($"vMCE injected for {kernelEvent.Address}: {kernelEvent.Reason}");
        return _linux.Deliver(kernelEvent);
    }
}

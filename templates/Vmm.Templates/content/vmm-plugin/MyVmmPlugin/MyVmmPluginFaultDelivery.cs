using Vmm.Abstractions;

namespace MyVmmPlugin;

/// <summary>
/// The VMM turns every memory-error SIGBUS (BUS_MCEERR_AR or _AO) on a vCPU thread into a machine check injected into
/// the guest; every other event is delivered as Linux delivers it.
/// </summary>
public sealed class MyVmmPluginFaultDelivery : IFaultDelivery
{
    public Outcome Deliver(in KernelEvent kernelEvent) => kernelEvent switch
    {
        { Kind: KernelEventKind.SigBus, Code: SigBusCode.BUS_MCEERR_AR or SigBusCode.BUS_MCEERR_AO, Context: SignalContext.VcpuThread } =>
            Outcome.GuestMce($"vMCE injected for {kernelEvent.Address}: {kernelEvent.Reason}"),
        { Kind: KernelEventKind.SigBus } => Outcome.SigBus(kernelEvent.Code, kernelEvent.Address, kernelEvent.Lsb),
        { Kind: KernelEventKind.SigKill } => Outcome.Killed("SIGKILL"),
        { Kind: KernelEventKind.SigSegv } => Outcome.Killed("SIGSEGV"),
        { Kind: KernelEventKind.TdFatal } => Outcome.GuestKilled(kernelEvent.Reason),
        { Kind: KernelEventKind.HostPanic } => Outcome.HostPanic(kernelEvent.Reason),
        { Kind: KernelEventKind.Shutdown } => Outcome.Shutdown(kernelEvent.Reason),
        // kvm_handle_bad_page: KVM_RUN returns -EFAULT.
        { Kind: KernelEventKind.GuestFaultFailed } => Outcome.Error(Errno.EFAULT),
        { Kind: KernelEventKind.GuestVc } => Outcome.GuestVc(kernelEvent.Reason),
        _ => throw new ArgumentOutOfRangeException(nameof(kernelEvent), kernelEvent.Kind, "unknown kernel event"),
    };
}

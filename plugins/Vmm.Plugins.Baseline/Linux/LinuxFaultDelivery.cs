using Vmm.Abstractions;

namespace Vmm.Plugins.Baseline.Linux;

/// <summary>
/// Fault delivery as Linux and QEMU do it without vMCE injection: a SIGBUS reaches the VMM with its
/// si_code and lsb (also when KVM sends it on the vCPU thread), SIGKILL/SIGSEGV kill it, a fatal TD
/// is reported as guest-killed, a failed guest fault as KVM_RUN's EFAULT, a #VC as guest-vc, and panics and shutdowns end the machine.
/// </summary>
public sealed class LinuxFaultDelivery : IFaultDelivery
{
    public Outcome Deliver(in KernelEvent kernelEvent) => kernelEvent.Kind switch
    {
        KernelEventKind.SigBus => Outcome.SigBus(kernelEvent.Code, kernelEvent.Address, kernelEvent.Lsb),
        KernelEventKind.SigKill => Outcome.Killed("SIGKILL"),
        KernelEventKind.SigSegv => Outcome.Killed("SIGSEGV"),
        KernelEventKind.TdFatal => Outcome.GuestKilled(kernelEvent.Reason),
        KernelEventKind.HostPanic => Outcome.HostPanic(kernelEvent.Reason),
        KernelEventKind.Shutdown => Outcome.Shutdown(kernelEvent.Reason),
        // kvm_handle_bad_page: KVM_RUN returns -EFAULT; the VMM learns nothing more (F1).
        KernelEventKind.GuestFaultFailed => Outcome.Error(Errno.EFAULT),
        KernelEventKind.GuestVc => Outcome.GuestVc(kernelEvent.Reason),
        _ => throw new ArgumentOutOfRangeException(nameof(kernelEvent), kernelEvent.Kind, "unknown kernel event"),
    };
}

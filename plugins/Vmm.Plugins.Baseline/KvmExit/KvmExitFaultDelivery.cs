using Vmm.Abstractions;
using Vmm.Plugins.Baseline.Linux;

namespace Vmm.Plugins.Baseline.KvmExit;

/// <summary>
/// F2: a failed guest fault reaches the VMM as a synchronous KVM_EXIT_MEMORY_FAULT (kvm_prepare_memory_fault_exit)
/// instead of SIGBUS: KVM_RUN returns -1 with flags, gpa and size, and errno EHWPOISON where the frame has a real
/// memory error, EFAULT otherwise. Sean Christopherson asked for this in the 2021 RFC review; upstream it is Chao Peng's
/// "KVM: Add KVM_EXIT_MEMORY_FAULT exit to report faults to userspace" (guest_memfd series v14, merged for v6.8). Every other event, including
/// poison a guest load consumed in place (a machine check, not a fault), is delivered as under linux.
/// </summary>
public sealed class KvmExitFaultDelivery : IFaultDelivery
{
    /// <summary>KVM_MEMORY_EXIT_FLAG_PRIVATE.</summary>
    public const string PrivateFlag = "PRIVATE";

    private static readonly string[] PrivateFlags = [PrivateFlag];
    private readonly LinuxFaultDelivery _linux = new();

    public Outcome Deliver(in KernelEvent kernelEvent)
    {
        if (kernelEvent.Guest is { } guest && kernelEvent.Kind is KernelEventKind.SigBus or KernelEventKind.GuestFaultFailed)
            return Outcome.KvmExit("MEMORY_FAULT", guest.Private ? PrivateFlags : [], guest.Gpa, guest.Size, guest.HardwareError ? Errno.EHWPOISON : Errno.EFAULT);
        return _linux.Deliver(kernelEvent);
    }
}

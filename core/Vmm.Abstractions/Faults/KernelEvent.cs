namespace Vmm.Abstractions;

public enum KernelEventKind
{
    /// <summary>A SIGBUS sent to a host process (force_sig_mceerr, send_sig_mceerr, force_sig_fault).</summary>
    SigBus,
    /// <summary>SIGKILL from memory_failure when a dirty page could not be unmapped (≤ 6.10).</summary>
    SigKill,
    /// <summary>SIGSEGV: an access outside any VMA.</summary>
    SigSegv,
    /// <summary>A TD consumed poison or failed an integrity check: the TDX module marks it fatal.</summary>
    TdFatal,
    /// <summary>Poison consumed in host kernel context, or memory_failure with recovery disabled.</summary>
    HostPanic,
    /// <summary>Poison consumed by the TDX module: the platform's unbreakable shutdown.</summary>
    Shutdown,
    /// <summary>KVM_RUN failed a guest fault with -EFAULT (kvm_handle_bad_page, a refused page): the errno, or a MEMORY_FAULT exit.</summary>
    GuestFaultFailed,
    /// <summary>The guest took a #VC on a private access: its page is not validated or its RMP entry does not match (SEV-SNP, H15-H16).</summary>
    GuestVc,
}

/// <summary>
/// The guest access behind a failed guest fault (what KVM_EXIT_MEMORY_FAULT reports): the page-aligned gpa, the size
/// of the mapping, whether the access was private, and whether the frame has a real (hardware or MADV_HWPOISON) error.
/// </summary>
public readonly record struct GuestMemoryFault(Gpa Gpa, ulong Size, bool Private, bool HardwareError);

/// <summary>Where the signalled thread was when the event hit.</summary>
public enum SignalContext
{
    /// <summary>The VMM's own load/store or syscall.</summary>
    VmmAccess,
    /// <summary>The VMM's vCPU thread inside KVM_RUN (kvm_send_hwpoison_signal, or a machine check in guest mode).</summary>
    VcpuThread,
    /// <summary>Asynchronous: memory_failure's early kill.</summary>
    Async,
}

/// <summary>An event the simulated kernel raises; <see cref="IFaultDelivery"/> turns it into a step outcome.</summary>
public readonly record struct KernelEvent(
    KernelEventKind Kind,
    int Pid,
    SigBusCode Code,
    Hva Address,
    int Lsb,
    SignalContext Context,
    VmId Vm,
    string Reason,
    GuestMemoryFault? Guest = null)
{
    public static KernelEvent SigBus(int pid, SigBusCode code, Hva address, int lsb, SignalContext context, VmId vm = default, string reason = "")
        => new(KernelEventKind.SigBus, pid, code, address, lsb, context, vm, reason);

    /// <summary>A failed guest fault of KVM_RUN (<see cref="KernelEventKind.GuestFaultFailed"/>, or the SIGBUS of kvm_send_hwpoison_signal).</summary>
    public static KernelEvent GuestFault(KernelEventKind kind, int pid, SigBusCode code, Hva address, int lsb, VmId vm, string reason, GuestMemoryFault guest)
        => new(kind, pid, code, address, lsb, SignalContext.VcpuThread, vm, reason, guest);

    public static KernelEvent Of(KernelEventKind kind, string reason, VmId vm = default, int pid = 0)
        => new(kind, pid, default, default, 0, SignalContext.VmmAccess, vm, reason);
}

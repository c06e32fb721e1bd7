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
}

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
    string Reason)
{
    public static KernelEvent SigBus(int pid, SigBusCode code, Hva address, int lsb, SignalContext context, VmId vm = default, string reason = "")
        => new(KernelEventKind.SigBus, pid, code, address, lsb, context, vm, reason);

    public static KernelEvent Of(KernelEventKind kind, string reason, VmId vm = default, int pid = 0)
        => new(kind, pid, default, default, 0, SignalContext.VmmAccess, vm, reason);
}

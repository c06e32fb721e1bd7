namespace Vmm.Abstractions;

/// <summary>get_user_pages FOLL_* flags (include/linux/mm.h; ALLOW_POISONED from the 2021 RFC).</summary>
[Flags]
public enum GupFlags
{
    None = 0,
    /// <summary>FOLL_WRITE.</summary>
    Write = 1 << 0,
    /// <summary>FOLL_HWPOISON: report a hwpoison entry as EHWPOISON instead of EFAULT.</summary>
    HwPoison = 1 << 1,
    /// <summary>FOLL_ALLOW_POISONED (RFC v2): return a poisoned frame to KVM.</summary>
    AllowPoisoned = 1 << 2,
    /// <summary>FOLL_PIN (pin_user_pages): the frame cannot be split or migrated while pinned.</summary>
    Pin = 1 << 3,
    /// <summary>get_user_pages_fast: gives up on non-present entries and falls back to the slow path.</summary>
    Fast = 1 << 4,
    /// <summary>FOLL_FORCE (access_remote_vm for /proc/pid/mem).</summary>
    Force = 1 << 5,
    /// <summary>FOLL_REMOTE: access to another process's mm.</summary>
    Remote = 1 << 6,
    /// <summary>Set by the kernel on every get_user_pages walk, so hooks can tell GUP from a user load/store.</summary>
    Get = 1 << 7,
}

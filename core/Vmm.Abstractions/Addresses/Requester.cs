namespace Vmm.Abstractions;

/// <summary>Who issues a memory access; memory controllers and fault delivery decide by it.</summary>
public enum Requester : byte
{
    /// <summary>Host kernel through the direct map (copy_to_user, drivers, crash dump).</summary>
    HostKernel,
    /// <summary>Host userspace (the VMM process) through its page tables.</summary>
    HostUser,
    /// <summary>A guest vCPU (a TD when the VM is protected) through the EPT.</summary>
    Guest,
    /// <summary>The TDX module running in SEAM mode.</summary>
    Seam,
    /// <summary>A device doing DMA.</summary>
    Device,
}

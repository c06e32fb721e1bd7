namespace Vmm.Abstractions;

/// <summary>A VM was created and its memslot is about to be mapped in the VMM.</summary>
public readonly record struct VmmMapping(VmInfo Vm);

/// <summary>How the VMM maps a VM's memory (the kernel default is read/write).</summary>
public interface IVmmMappingPolicy
{
    VmmProtection MapMemslot(VmmMapping mapping);
}

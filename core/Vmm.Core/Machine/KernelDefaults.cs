using Vmm.Abstractions;

namespace Vmm.Core.Machine;

/// <summary>The unmodified kernel's answer for every policy role a run's policy does not implement.</summary>
internal sealed class KernelDefaults : IGuestFaultPolicy, IHwPoisonEntryPolicy, IVmmMappingPolicy, IConversionPolicy, IFrameLifecyclePolicy, IGuestMemorySourcePolicy, IPageCachePolicy
{
    public static readonly KernelDefaults Instance = new();

    private KernelDefaults()
    {
    }

    public VmmProtection MapMemslot(VmmMapping mapping) => VmmProtection.ReadWrite;

    public Outcome? OnConvert(Conversion conversion) => null;
}

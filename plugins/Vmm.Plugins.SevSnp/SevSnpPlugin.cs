using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;
using Vmm.Plugins.SevSnp.Rmp;

namespace Vmm.Plugins.SevSnp;

/// <summary>AMD SEV-SNP: the RMP-checking memory controller.</summary>
public sealed class SevSnpPlugin : IVmmPlugin
{
    public string Name => "SevSnp";

    public void ConfigureServices(IServiceCollection services)
    {
        services.AddVmmComponent<IMemoryController, SevSnpMemoryController>(ComponentKind.Memory, "sev-snp",
            "SEV-SNP: an RMP entry per frame; host writes to guest pages fault, host reads see ciphertext, the guest detects pages changed behind its back (#VC), the IOMMU blocks DMA writes (H12-H18).");
    }
}

using Vmm.Abstractions;

namespace Vmm.Plugins.HwPoison;

/// <summary>Options of hwpoison-v1 and hwpoison-v2, bound from `options` keys "hwpoison.*".</summary>
public sealed class HwPoisonOptions
{
    public const string Section = "hwpoison";

    [Option("Keep real memory errors apart from policy poison: the VMM is told (SIGBUS AO) and a really bad frame is not returned to the allocator on free. Off = the RFC as posted (the reviewers' objection).")]
    public bool TrackReason { get; set; }

    [Option("KVM_NR_SHARED_RANGES: how many merged shared ranges a VM may record; beyond that the share warns and the range is not remembered.")]
    public int MaxSharedRanges { get; set; } = 32;
}

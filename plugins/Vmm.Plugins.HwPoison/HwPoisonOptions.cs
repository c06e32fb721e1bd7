using System.ComponentModel.DataAnnotations;
using Vmm.Abstractions;

namespace Vmm.Plugins.HwPoison;

/// <summary>
/// Options of hwpoison-v1 and hwpoison-v2, bound from `options` keys "hwpoison.*". <see cref="Validate"/> makes
/// the policies' own check, so the host reports a bad value even in a run that uses neither.
/// </summary>
public sealed class HwPoisonOptions : IValidatableObject
{
    public const string Section = "hwpoison";

    [Option("Keep real memory errors apart from policy poison: the VMM is told (SIGBUS AO) and a really bad frame is not returned to the allocator on free. Off = the RFC as posted (the reviewers' objection).")]
    public bool TrackReason { get; set; }

    [Option("KVM_NR_SHARED_RANGES: how many merged shared ranges a VM may record; beyond that the share warns and the range is not remembered.")]
    public int MaxSharedRanges { get; set; } = 32;

    /// <summary>What is wrong with <see cref="MaxSharedRanges"/>, or null.</summary>
    internal string? MaxSharedRangesProblem => MaxSharedRanges < 0 ? $"must be 0 or more, not {MaxSharedRanges}" : null;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxSharedRangesProblem is { } problem) yield return new ValidationResult(problem, [nameof(MaxSharedRanges)]);
    }
}

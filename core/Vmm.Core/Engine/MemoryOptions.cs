using System.ComponentModel.DataAnnotations;
using Vmm.Abstractions;

namespace Vmm.Core.Engine;

/// <summary>How the simulator holds guest memory, bound from `options` keys "memory.*" (docs/contents-free.md).</summary>
public sealed class MemoryOptions : IValidatableObject
{
    public const string Section = "memory";

    /// <summary>The values of <see cref="Contents"/>.</summary>
    public static IReadOnlyList<string> ContentsValues { get; } = ["full", "none"];

    [Option("\"full\" keeps every written byte; \"none\" (contents-free, for sweeps) keeps frame metadata, page tables and costs exactly but no bytes: reads see zeros, MACs are counted, not computed, and data-dependent results (leaked B, corrupt, cross-VM B, kvm B, expected data) are not available (docs/contents-free.md).")]
    public string Contents { get; set; } = "full";

    /// <summary>True for <c>memory.contents</c> "none".</summary>
    public bool ContentsFree => Contents == "none";

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!ContentsValues.Contains(Contents))
            yield return new ValidationResult($"contents must be \"full\" or \"none\" (contents-free), not \"{Contents}\"", [nameof(Contents)]);
    }
}

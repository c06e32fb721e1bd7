namespace Vmm.Abstractions;

/// <summary>The guest converts [<paramref name="Gpa"/>, <paramref name="Gpa"/> + <paramref name="Size"/>) to private or shared.</summary>
public readonly record struct Conversion(VmInfo Vm, Gpa Gpa, ulong Size, bool ToPrivate);

/// <summary>Private/shared conversions (KVM_HC_MAP_GPA_RANGE) before the kernel changes the memory attributes.</summary>
public interface IConversionPolicy
{
    /// <summary>Null (or ok) lets the conversion go on; any other outcome is the hypercall's result.</summary>
    Outcome? OnConvert(Conversion conversion);
}
